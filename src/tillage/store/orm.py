"""The declarative base of the catalog tables that the stores map with the ORM.

Monitoring, runs, labels and file checksums map their tables as classes; they
share `tillage.store.catalog.METADATA` with the commit tables, so that one
metadata describes the whole catalog. Only those stores import the ORM.
"""

from sqlalchemy.orm import DeclarativeBase

from tillage.store.catalog import METADATA


class Base(DeclarativeBase):
    metadata = METADATA
