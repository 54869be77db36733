^without a lock: [0-9]+ \(lost updates: [0-9]+\)$
^with a lock: 500000$
