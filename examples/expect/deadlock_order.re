#args: 0.05
^wrong_order: Got both locks$
^weft: possible deadlock: lock order cycle$
^  thread "opposite_order" .*acquires "lock1" at .* while holding "lock2",$
^    "lock2" -> "lock1": thread "opposite_order" acquired "lock1"
^    "lock1" -> "lock2": thread "wrong_order" acquired "lock2"
^opposite_order: Got both locks$
^wrong/opposite order: 1 report\(s\), and no thread hung$
^right_order: Got both locks$
^also_right_order: Got both locks \(same order\)$
^right/also right order: 0 report\(s\)$
