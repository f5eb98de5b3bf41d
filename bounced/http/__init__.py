"""The HTTP side of `bounced serve`: the JSON API, /metrics and the report page ([http]).

It runs on the daemon's event loop (uvicorn on a socket the daemon binds) and calls the same
service layer as the CLI (`bounced.service`)."""
