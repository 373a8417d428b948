"""Web views: thin — parse the request, call an action, render a template."""
