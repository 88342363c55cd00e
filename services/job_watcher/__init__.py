"""The job-watcher process: Jobs and Pods labelled by c8s become StepStarted/StepFinished/ArtifactUploaded."""
