"""Staff login (OpenID Connect), server-side sessions, CSRF, security headers."""
