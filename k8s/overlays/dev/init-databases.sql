-- Run once by the postgres image on an empty data directory (docker-compose.yml and the dev overlay of k8s/).
CREATE DATABASE swatter_identity;
CREATE DATABASE swatter_issues;
CREATE DATABASE swatter_reporting;
CREATE DATABASE swatter_webhooks;
