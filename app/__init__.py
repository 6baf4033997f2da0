"""hashbank service: API, services, storage, index, dashboard and reporting page."""
