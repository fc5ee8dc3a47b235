"""Credentials for private repositories: HTTPS tokens and SSH deploy keys, sealed at rest,
of one project or of an organization, and the SSH host keys pinned for each project."""
