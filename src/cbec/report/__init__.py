"""Beyond the paper: diagnostic figures and the self-contained report."""
