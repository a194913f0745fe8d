-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d): the shop's own
-- database next to Rasa's tracker store ($POSTGRES_DB, created by the image), both owned by $POSTGRES_USER.
CREATE DATABASE shop;
