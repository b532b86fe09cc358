"""The demo (`manage.py load_demo`, run by `make run`): sample registry, campaign and back-office
users. It sits above every other package (it uses the import, the campaign and the roles), so the
core imports nothing from it."""
