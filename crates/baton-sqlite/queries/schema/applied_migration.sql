SELECT checksum FROM baton_migrations WHERE version = ?1
