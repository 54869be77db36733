#args: 0.05
^Resource [0-9] accessed$
^most threads inside at once: 3$
^never more than 3: yes$
