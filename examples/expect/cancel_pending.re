^cancelled 5 pending tasks$
^cancel the running task: .*already
^result of a cancelled task: cancelled$
^long job: sleep returned: cancelled$
^interrupt the running job: .*progress
^long job ended: the task failed .* \(cancelled\)$
