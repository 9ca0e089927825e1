# Astro Runtime for Airflow 3.3 (the runtime tag follows the Airflow version: 3.3-<patch>).
# Its ONBUILD steps install requirements.txt and copy dags/, plugins/ and include/ into /usr/local/airflow.
# Run locally with `astro dev start`; deploy with `astro deploy`. Node.js and Azurite are test-only and stay out.
FROM astrocrpublic.azurecr.io/runtime:3.3-2
