"""Golden-output regression tests, the running part: finding cases, running them, saving expectations."""
