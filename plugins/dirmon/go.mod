module github.com/stoq-go/stoq/plugins/dirmon

go 1.26
