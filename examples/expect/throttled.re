#args: 0.2
^batch 1 done$
^batch 4 done$
^batches: most requests in flight: 5 \(limit 5\)$
^bounded: queued never above 2: yes$
^bounded: most requests in flight: 2 \(limit 2\)$
