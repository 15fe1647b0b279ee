"""One module per screen: the six wizard steps, Train, Runs, and Export & try."""
