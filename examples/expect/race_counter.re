^without a lock: ([0-9]+ \(lost updates: [1-9][0-9]*, on try [0-9]+\)|could not provoke a lost update in 20 tries)$
^with a lock: 500000$
