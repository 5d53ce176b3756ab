SELECT nextval('baton_waiter_seq')
