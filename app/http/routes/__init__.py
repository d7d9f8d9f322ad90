"""HTTP routes: parse, delegate to the service, shape the answer."""
