"""The partner's pages behind its secret link: its calendar feed and the status of its sites."""
