"""The --demo manifests: a PipelineConfig with a small DAG (lint, then test and build in parallel,
then package), a secret the test step reads (masked in its log), an artifact from build, and a
RepositoryConnection (provider github) with its webhook Secret. Written to DIR/demo/manifests.yaml
so a newcomer can read and re-apply them.
"""

from __future__ import annotations

CONFIG = "demo-ci"
CONNECTION = "demo-repo"
WEBHOOK_SECRET = "demo-webhook-secret"
TOKEN_SECRET = "demo-credentials"


def manifests(repository: str, webhook_secret: str, token: str, namespace: str = "default") -> str:
    return f"""\
apiVersion: v1
kind: Secret
metadata: {{name: {WEBHOOK_SECRET}, namespace: {namespace}}}
stringData:
  webhook-secret: {webhook_secret}
---
apiVersion: v1
kind: Secret
metadata: {{name: {TOKEN_SECRET}, namespace: {namespace}}}
stringData:
  token: {token}
---
apiVersion: c8s.dev/v1alpha1
kind: PipelineConfig
metadata: {{name: {CONFIG}, namespace: {namespace}}}
spec:
  repository: {repository}
  branches: ["main"]
  timeout: 10m
  steps:
    - name: lint
      image: alpine:3.20
      commands: ["sh lint.sh"]
    - name: test
      image: alpine:3.20
      commands: ["sh test.sh"]
      dependsOn: [lint]
      secrets:
        - {{secretRef: {TOKEN_SECRET}, key: token, envVar: DEMO_TOKEN}}
    - name: build
      image: alpine:3.20
      commands: ["sh build.sh"]
      dependsOn: [lint]
      artifacts: ["dist/*.txt"]
    - name: package
      image: alpine:3.20
      commands:
        - echo "packaging $COMMIT_SHA from $BRANCH"
        - head -n 1 README.md
      dependsOn: [test, build]
---
apiVersion: c8s.dev/v1alpha1
kind: RepositoryConnection
metadata: {{name: {CONNECTION}, namespace: {namespace}}}
spec:
  repository: {repository}
  provider: github
  webhookSecretRef: {WEBHOOK_SECRET}
  pipelineConfigRef: {CONFIG}
"""
