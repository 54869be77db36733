^Thread [0-2]: cache = .* \(own\)$
^Thread [0-2]: cache = .* \(own\)$
^Thread [0-2]: cache = .* \(own\)$
^Main thread's id: -1 \(never set here\)$
