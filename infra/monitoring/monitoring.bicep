// Herald's operations workbook and alert rules, on the Application Insights resource Herald sends telemetry to.
// Every query is a file in queries/, shown with its meaning in docs/operations.md (`npm run validate` checks that
// the doc quotes each file as it is).

@description('Used to generate names for the resources in this file')
param resourceBaseName string

param location string

@description('Resource id of Herald\'s Application Insights')
param appInsightsId string

@description('E-mail address the alerts notify. Empty = alerts fire in the portal only.')
param alertEmail string = ''

var query = {
  broadcasts: loadTextContent('queries/broadcasts.kql')
  ratePerTenant: loadTextContent('queries/rate-per-tenant.kql')
  outcomes: loadTextContent('queries/outcomes.kql')
  throttling: loadTextContent('queries/throttling.kql')
  failuresByReason: loadTextContent('queries/failures-by-reason.kql')
  failedDeliveries: loadTextContent('queries/alert-failed-deliveries.kql')
  api5xx: loadTextContent('queries/alert-api-5xx.kql')
  noHeartbeat: loadTextContent('queries/alert-no-heartbeat.kql')
}

var workbookQueries = [
  {
    title: 'Broadcasts (last 24 hours)'
    query: query.broadcasts
    visualization: 'table'
  }
  {
    title: 'Requests per second per tenant, against Teams\' 50/s'
    query: query.ratePerTenant
    visualization: 'timechart'
  }
  {
    title: 'Delivery outcomes'
    query: query.outcomes
    visualization: 'barchart'
  }
  {
    title: '429s and retries'
    query: query.throttling
    visualization: 'timechart'
  }
  {
    title: 'Failures by reason'
    query: query.failuresByReason
    visualization: 'table'
  }
]

var workbookContent = {
  version: 'Notebook/1.0'
  items: concat([
    {
      type: 1
      name: 'intro'
      content: {
        json: '## Herald\nWhat Herald sends and how Teams answers. What each chart means, and what to do about it: docs/operations.md in the repository.'
      }
    }
  ], map(workbookQueries, (item, i) => {
    type: 3
    name: 'query-${i}'
    content: {
      version: 'KqlItem/1.0'
      title: item.title
      query: item.query
      size: 0
      timeContext: {
        durationMs: 86400000
      }
      queryType: 0
      resourceType: 'microsoft.insights/components'
      visualization: item.visualization
    }
  }))
  fallbackResourceIds: [
    appInsightsId
  ]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(resourceGroup().id, resourceBaseName, 'herald-operations')
  location: location
  kind: 'shared'
  properties: {
    displayName: 'Herald operations (${resourceBaseName})'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string(workbookContent)
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${resourceBaseName}-alerts'
  location: 'global'
  properties: {
    groupShortName: 'herald'
    enabled: true
    emailReceivers: [
      {
        name: 'operations'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var actions = empty(alertEmail) ? {} : {
  actionGroups: [
    actionGroup.id
  ]
}

var alerts = [
  {
    name: 'failed-deliveries'
    displayName: 'Herald: more than 5% of deliveries failed'
    description: 'Over 30 minutes, more than 5% of the deliveries Herald attempted (sent or failed, at least 20) failed. docs/operations.md: "Alert: failed deliveries".'
    severity: 2
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    query: query.failedDeliveries
    timeAggregation: 'Maximum'
    metricMeasureColumn: 'failedRatio'
    operator: 'GreaterThan'
    threshold: json('0.05')
  }
  {
    name: 'api-5xx'
    displayName: 'Herald: the API answered 5xx'
    description: 'Herald answered a request to /api/ (its API or the bot endpoint) with a 5xx in the last 5 minutes. docs/operations.md: "Alert: 5xx from the API".'
    severity: 2
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    query: query.api5xx
    timeAggregation: 'Count'
    metricMeasureColumn: null
    operator: 'GreaterThan'
    threshold: 0
  }
  {
    name: 'no-heartbeat'
    displayName: 'Herald: no heartbeat'
    description: 'No Herald instance reported its heartbeat metric for 10 minutes: Herald is down, cannot start, or cannot reach Application Insights. docs/operations.md: "Alert: no heartbeat".'
    severity: 1
    evaluationFrequency: 'PT5M'
    windowSize: 'PT10M'
    query: query.noHeartbeat
    timeAggregation: 'Count'
    metricMeasureColumn: null
    operator: 'LessThan'
    threshold: 1
  }
]

resource alertRules 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for alert in alerts: {
    name: '${resourceBaseName}-${alert.name}'
    location: location
    properties: {
      displayName: alert.displayName
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [
        appInsightsId
      ]
      evaluationFrequency: alert.evaluationFrequency
      windowSize: alert.windowSize
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: alert.timeAggregation
            metricMeasureColumn: alert.metricMeasureColumn
            operator: alert.operator
            threshold: alert.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: actions
    }
  }
]

output workbookId string = workbook.id
