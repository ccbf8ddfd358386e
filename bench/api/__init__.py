"""REST API benchmark: request rate and latency on a real socket."""
