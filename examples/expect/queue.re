#args: 0.2
^Produced 1 
^with sentinels: total 55$
^with shutdown: total 55$
