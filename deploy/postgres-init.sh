#!/bin/sh
# Two databases on one server: the case store and Prefect's own (run once, by the image).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE USER qingfeng PASSWORD '$POSTGRES_PASSWORD';
CREATE DATABASE qingfeng OWNER qingfeng;
CREATE USER prefect PASSWORD '$POSTGRES_PASSWORD';
CREATE DATABASE prefect OWNER prefect;
SQL
