"""Plain-Python access to Graph's ``getDirectRoutingCalls``; no Airflow import here."""
