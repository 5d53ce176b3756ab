SELECT nextval('baton_fencing_token')
