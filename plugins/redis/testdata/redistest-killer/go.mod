module github.com/stoq-go/stoq/plugins/redis/v3/testdata/redistest-killer

go 1.26.0

require github.com/stoq-go/stoq/core/v3 v3.0.0

replace github.com/stoq-go/stoq/core/v3 => ../../../../core
