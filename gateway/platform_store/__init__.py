"""The platform's own store (平台数据库): the access log now; objections, inspection
plans and policy tables later. SQLite by default, PostgreSQL in production, through
SQLAlchemy, with versioned migrations."""
