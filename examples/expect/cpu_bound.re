#args: 0.05
^primes below 200000: 17984 \(sequential\), 17984 \(threads\)$
^sequential: [0-9.]+s, [0-9]+ threads: [0-9.]+s, speedup [0-9.]+x on [0-9]+ cores$
