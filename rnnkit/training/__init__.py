"""Training building blocks: losses, metrics and the machinery that uses them."""
