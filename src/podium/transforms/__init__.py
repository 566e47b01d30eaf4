"""SQL models, checks and the unified commerce model."""
