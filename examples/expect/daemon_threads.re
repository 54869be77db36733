#args: 0.5
^main: returning$
^non-daemon: finished its job after main returned$
