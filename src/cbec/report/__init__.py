"""Beyond the paper: the event-study Table 8, diagnostic figures and the self-contained report."""
