"""What the server-rendered pages (dashboard, reporting page) share: static files served
from memory with ETags, and the security headers every page and asset carries."""
