"""What the sales and store windows show and may do, without Qt (the Mu way): the views in ui/ only lay out
widgets, forward a person's keys and clicks here, and show what comes back. Tested without a display."""
