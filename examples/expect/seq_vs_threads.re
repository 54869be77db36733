#args: 0.1
^sequential: [0-9.]+s$
^threaded: [0-9.]+s$
^result\[0\] = data from site1.com$
^result\[2\] = data from site3.com$
^speedup: [0-9.]+x$
^sequential took at least 3 fetches: yes$
