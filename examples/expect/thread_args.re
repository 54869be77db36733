#args: 0.2
^Finished: 
^All downloads complete!$
