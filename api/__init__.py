"""HTTP only: the app factory, routers, request/response schemas, auth and errors."""
