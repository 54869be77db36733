^risky failed: Something went wrong in step 1 \(invalid argument\)$
^hook: unhandled error in forgotten: Something went wrong in step 2 \(invalid argument\)$
^forgotten joined$
^hook: unhandled error in .*: Something went wrong in step 3 \(invalid argument\)$
