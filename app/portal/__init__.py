"""The victims' reporting page: report by hashes computed in the browser, follow, withdraw."""
