"""The validating admission webhook for PipelineConfig, PipelineRun and RepositoryConnection."""
