SELECT baton_now_ms()
