^Outer acquired lock \(level 1\)$
^Inner acquired lock \(level 2\)$
^after outer: level 0$
^balances: a=1000000 b=1000000 total=2000000$
