"""One module per source of usage records, each turning that source's record into the usage
event of DESIGN 6.1 with its token-class convention converted explicitly (see README, "Usage
sources"). None of them keeps prompt or completion text (`redact.py`)."""
