module example.com/stoq-redistest-killer/v3

go 1.26.0

require github.com/stoq-go/stoq/core/v3 v3.0.0

replace github.com/stoq-go/stoq/core/v3 => ../../../../core
