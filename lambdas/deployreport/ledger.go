package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ledger records, per execution, the last step posted to Slack: incoming
// webhooks cannot be asked what they received, so a repeated or late event would
// post again without it. One DynamoDB item per execution (key: the execution
// id), expiring after 14 days (TTL), written only by conditional updates:
//
//   - claim(step) succeeds when no step was posted yet, a lower step was, or this
//     very step failed to post or has been "sending" for longer than staleAfter
//     (an invocation that died); it marks the step "sending";
//   - done marks it "sent"; release marks it "failed" so EventBridge's retry of
//     the event posts it.
//
// So each (execution, step) posts once, steps only move forward, and a crash
// between the post and done repeats one message after staleAfter (at least once).
type ledger struct {
	db         ledgerDB
	table      string
	now        func() time.Time
	staleAfter time.Duration
}

type ledgerDB interface {
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

const ledgerTTL = 14 * 24 * time.Hour

func num(n int64) ddbtypes.AttributeValue {
	return &ddbtypes.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func str(s string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: s} }

// ledgerNames are the attribute names; DynamoDB refuses a name an expression
// does not use, so each update passes only the placeholders its expressions
// hold.
var (
	ledgerNames = map[string]string{"#step": "step", "#s": "status", "#at": "at", "#exp": "expires", "#first": "firstSeen"}
	placeholder = regexp.MustCompile(`#[a-z]+`)
)

// update runs one conditional UpdateItem; it returns false when the condition
// did not hold, and the item's attributes after the update.
func (l *ledger) update(ctx context.Context, execution, set, cond string, values map[string]ddbtypes.AttributeValue) (bool, map[string]ddbtypes.AttributeValue, error) {
	names := map[string]string{}
	for _, k := range placeholder.FindAllString(set+" "+cond, -1) {
		names[k] = ledgerNames[k]
	}
	out, err := l.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(l.table), Key: map[string]ddbtypes.AttributeValue{"id": str(execution)},
		UpdateExpression: aws.String(set), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
		ReturnValues: ddbtypes.ReturnValueAllNew,
	})
	var cf *ddbtypes.ConditionalCheckFailedException
	switch {
	case errors.As(err, &cf):
		return false, nil, nil
	case err != nil:
		return false, nil, fmt.Errorf("record of Slack messages in DynamoDB table %s: %w", l.table, err)
	}
	return true, out.Attributes, nil
}

// claim also keeps the time of the first event it saw for the execution, and
// returns it, so the last message can say how long the execution took.
func (l *ledger) claim(ctx context.Context, execution string, s step, eventTime time.Time) (bool, time.Time, error) {
	now := l.now()
	if eventTime.IsZero() {
		eventTime = now
	}
	ok, item, err := l.update(ctx, execution,
		"SET #step = :step, #s = :sending, #at = :now, #exp = :exp, #first = if_not_exists(#first, :time)",
		"attribute_not_exists(#step) OR #step < :step OR (#step = :step AND (#s = :failed OR (#s = :sending AND #at < :stale)))",
		map[string]ddbtypes.AttributeValue{
			":step": num(int64(s)), ":sending": str("sending"), ":failed": str("failed"), ":now": num(now.Unix()),
			":exp": num(now.Add(ledgerTTL).Unix()), ":stale": num(now.Add(-l.staleAfter).Unix()), ":time": num(eventTime.Unix()),
		})
	var first time.Time
	if n, isNum := item["firstSeen"].(*ddbtypes.AttributeValueMemberN); isNum {
		if sec, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
			first = time.Unix(sec, 0)
		}
	}
	return ok, first, err
}

func (l *ledger) mark(ctx context.Context, execution string, s step, status string) error {
	_, _, err := l.update(ctx, execution, "SET #s = :status", "#step = :step",
		map[string]ddbtypes.AttributeValue{":step": num(int64(s)), ":status": str(status)})
	return err
}

func (l *ledger) done(ctx context.Context, execution string, s step) error {
	return l.mark(ctx, execution, s, "sent")
}

func (l *ledger) release(ctx context.Context, execution string, s step) error {
	return l.mark(ctx, execution, s, "failed")
}
