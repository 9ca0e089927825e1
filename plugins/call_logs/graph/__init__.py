"""Plain-Python access to Graph's call-log report functions; no Airflow import here."""
